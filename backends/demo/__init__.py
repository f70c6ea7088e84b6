"""The built-in demo backend (``mlops-tui --demo``): a simulated GPU cluster that changes
over time, so every screen can be seen without a cluster. Deterministic when asked
(``seed``, an injected clock ``now``, ``frozen=True``), which makes it the TUI tests' fixture.
"""

from mlops_tui.backends.demo.backend import DemoBackend, create_backend

__all__ = ["DemoBackend", "create_backend"]
