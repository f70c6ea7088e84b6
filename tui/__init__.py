"""The Textual app (screens, widgets, the CLI); it reaches backends through their seam."""


def package_version() -> str:
    """The installed mlops-tui version ("0+unknown" when run from a bare checkout)."""
    from importlib.metadata import PackageNotFoundError, version  # only when asked

    try:
        return version("mlops-tui")
    except PackageNotFoundError:
        return "0+unknown"
