"""The k9s-style header: context, cluster, user, version, namespace, and the cache state."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from backends.models import ClusterInfo


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

    def render(self) -> Table:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold dark_orange", no_wrap=True)
        grid.add_column(no_wrap=True)
        grid.add_column(justify="right", ratio=1, no_wrap=True)
        info = self.info
        if info is None:
            grid.add_row("Context:", "connecting…", "")
            return grid
        ro = Text(" READ-ONLY ", style="bold reverse red") if self.readonly else Text("")
        grid.add_row("Context:", Text(info.context, style="bold"), ro)
        grid.add_row("Cluster:", f"{info.cluster}  ({info.server})",
                     Text(f"mlops-tui {self.version}", style="dim"))
        grid.add_row("User:", info.user, "")
        grid.add_row("K8s Rev:", f"{info.version}   Namespace: {info.namespace or 'all'}",
                     Text(self.sync, style="yellow" if "error" in self.sync else "dim"))
        return grid
