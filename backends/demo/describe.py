"""The demo's related-objects lookup: what a describe shows beside an object, found in the
simulated world. The text itself comes from the shared renderer
(``backends.render.describe``), so a demo describe looks like a real cluster's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mlops_tui.backends.demo.pods import pods_on
from mlops_tui.backends.demo.world import World
from mlops_tui.backends.render._common import Obj
from mlops_tui.backends.render.describe import describe as describe_text
from mlops_tui.backends.render.related import matches


class WorldRelated:
    """Answers the describe renderer from the world's indexes (callers hold its lock)."""

    def __init__(self, world: World) -> None:
        self.world = world

    def events(self, obj: Obj) -> Sequence[Obj]:
        return self.world.events_for(obj["metadata"]["uid"])

    def owned(self, obj: Obj, kind: str) -> Sequence[Obj]:
        return self.world.owned_by(kind, obj["metadata"]["uid"])

    def pods_on_node(self, node: str) -> Sequence[Obj]:
        return pods_on(self.world, node)

    def pods_selected(self, namespace: str, selector: Mapping[str, str]) -> Sequence[Obj]:
        return [p for p in self.world.list("pods", namespace)
                if matches(p["metadata"].get("labels"), selector)]


def describe(world: World, obj: Obj, now: float) -> str:
    return describe_text(obj, WorldRelated(world), now)
