"""Screens pushed over the main view: text details, logs, help and dialogs."""
