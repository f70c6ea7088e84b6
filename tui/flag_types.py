"""argparse ``type=`` checks for the CLI's flags: a bad value is a usage error (exit 2)
with one line that says what is allowed, never a ``ValueError`` traceback later on.

``float("nan")``, ``float("inf")`` and ``1e309`` all parse, and a NaN compares false
with everything, so ranges are checked with ``math.isfinite`` first.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from mlops_tui.backends.errors import ConfigError
from mlops_tui.backends.names import check_namespace


def seconds(low: float, high: float) -> Callable[[str], float]:
    """A number of seconds in ``[low, high]`` (``low`` itself excluded when it is 0)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
        if not math.isfinite(value) or value > high or value < low or value <= 0:
            bound = "more than 0" if low <= 0 else f"at least {low:g}"
            raise argparse.ArgumentTypeError(
                f"{text!r}: must be {bound} and at most {high:g} seconds")
        return value
    return parse


def count(low: int, high: int, unit: str) -> Callable[[str], int]:
    """A whole number in ``[low, high]``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"{text!r}: must be between {low} and {high} {unit}")
        return value
    return parse


def namespace(text: str) -> str:
    """A namespace name as the API accepts it (DNS-1123 label): it goes into URL paths."""
    try:
        return check_namespace(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
