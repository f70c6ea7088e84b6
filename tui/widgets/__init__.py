"""Reusable widgets of the TUI."""

from mlops_tui.tui.widgets.resource_table import ResourceTable

__all__ = ["ResourceTable"]
