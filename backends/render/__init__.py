"""Pure renderers: one API object (a decoded JSON dict) in, one lean table Row out.

They never call a server and keep no state, so they are tested with JSON fixtures and shared
by every backend that speaks Kubernetes objects (the real client and the demo sandbox).
"""

from mlops_tui.backends.render._common import human_age
from mlops_tui.backends.render.pods import pod_phase

__all__ = ["human_age", "pod_phase"]
