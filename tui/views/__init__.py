"""Views: what fills the main area (a kind's table, the contexts list)."""
