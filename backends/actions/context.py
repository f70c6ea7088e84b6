"""Switch the session to another kubeconfig context."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import asdict

from mlops_tui.backends.actions import events
from mlops_tui.backends.actions.base import ActionContext, ActionSpec, Request
from mlops_tui.backends.actions.events import ActionEvent
from mlops_tui.backends.protocols import ContextSwitcher


class UseContextRequest(Request):
    name: str


async def run_use_context(ctx: ActionContext, req: UseContextRequest
                          ) -> AsyncIterator[ActionEvent]:
    switcher: ContextSwitcher = ctx.capability(ContextSwitcher, "switch contexts")
    yield events.progress(f"switching to context {req.name}…")
    info = await switcher.use_context(req.name)
    ctx.namespace = info.namespace or ctx.namespace
    yield events.ok(f"switched to context {req.name}", asdict(info))


SPECS = (ActionSpec("use_context", UseContextRequest, run_use_context,
                    "switch kubeconfig context"),)
