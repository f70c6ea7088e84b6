"""Checks for the URLs a user gives (flags, config files, scripts), before any request."""

from __future__ import annotations

from urllib.parse import urlsplit

from mlops_tui.backends.errors import ConfigError

URL_HINT = "expected http(s)://host[:port][/path]"


def check_http_url(url: str, what: str = "URL") -> str:
    """``url`` without trailing slashes, once it is an http(s) URL with a host.

    Raises:
        ConfigError: anything else (the message never repeats a URL holding credentials,
            and shows no more than one short line of what was given).
    """
    text = url.strip()
    try:
        parts = urlsplit(text)
        usable = (parts.scheme in ("http", "https") and bool(parts.hostname)
                  and (parts.port is None or parts.port > 0))
    except ValueError:  # a port that is not a number or out of range, a broken [IPv6]
        usable = False
    if usable:
        return text.rstrip("/")
    flat = " ".join(text.split())[:120]
    shown = "" if "@" in text else f" {flat!r}"
    raise ConfigError(f"invalid {what}{shown}: {URL_HINT}")
