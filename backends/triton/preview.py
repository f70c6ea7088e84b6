"""Short, plain-text previews of tensors for a result screen or a log line.

Pure functions over numpy arrays. Text a model returns (BYTES outputs) is shown through
``repr``-like escaping, so control characters, newlines or markup-looking text never
reach a terminal as anything but plain characters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

#: longest shown text of one BYTES element
MAX_ELEMENT_CHARS = 40


def escape(text: str) -> str:
    """``text`` with every character that is not printable shown as its escape (``\\n``)."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


def format_value(value: object) -> str:
    """One element as short plain text.

    Args:
        value: a numpy scalar, Python number, bool or bytes/str (BYTES tensors).

    Returns:
        ``0.5``, ``3``, ``true``, ``'text'`` (quoted, escaped, cut to
        :data:`MAX_ELEMENT_CHARS`).
    """
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        text = escape(value).replace("'", "\\'")
        if len(text) > MAX_ELEMENT_CHARS:
            text = text[: MAX_ELEMENT_CHARS - 1] + "…"
        return f"'{text}'"
    item = value.item() if hasattr(value, "item") else value
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, float):
        return f"{item:.6g}"
    return str(item)


def preview_array(array: np.ndarray, max_items: int = 8) -> str:
    """The first ``max_items`` values of ``array`` (flattened), and how many were left out.

    Args:
        array: any numpy array (object arrays hold BYTES elements).
        max_items: how many values to show (at least 1).

    Returns:
        e.g. ``"[0.5, 1, 2, 3]"`` or ``"[0, 1, 2, … +97 more]"``; ``"[]"`` when empty.
    """
    flat = array.reshape(-1)
    shown = max(1, max_items)
    parts = [format_value(v) for v in flat[:shown]]
    if flat.size > shown:
        parts.append(f"… +{flat.size - shown} more")
    return "[" + ", ".join(parts) + "]"


def describe_tensor(name: str, datatype: str, shape: tuple[int, ...], array: np.ndarray,
                    max_items: int = 8) -> str:
    """``NAME FP32[1,4] = [0.5, 1, 2, 3]``: one line for a tensor.

    Args:
        name: the tensor's name (from the server; shown escaped like BYTES text).
        datatype: Triton's data type name.
        shape: the tensor's shape.
        array: its values.
        max_items: passed to :func:`preview_array`.

    Returns:
        One line of plain text.
    """
    safe_name = escape(name)
    dims = ",".join(str(d) for d in shape)
    return f"{safe_name} {datatype}[{dims}] = {preview_array(array, max_items)}"
