"""The Textual app (screens, widgets, the CLI); it reaches backends through their seam."""

__version__ = "0.1.0"


def package_version() -> str:
    """The version of mlops-tui (read from the package, not from installed metadata: that
    costs ~20 ms of imports at every start)."""
    return __version__
