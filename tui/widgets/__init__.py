"""Reusable widgets of the TUI."""

from tui.widgets.resource_table import ResourceTable

__all__ = ["ResourceTable"]
