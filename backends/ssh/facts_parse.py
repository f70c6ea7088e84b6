"""Pure parsers of the facts script's sections (see :mod:`.facts`): each takes a section's
text and never raises on odd input (a line it cannot read is skipped)."""

from __future__ import annotations

import re
import socket
import struct
from dataclasses import dataclass

_SECTION = re.compile(r"^@@mlops-facts:([a-zA-Z0-9-]+)@@$")
_DF_LINE = re.compile(r"\s(\d+)\s+(\d+)\s+(\d+)\s+(\d+)%\s+(\S.*)$")
_GPU_LINE = re.compile(r"^GPU (\d+): (.+?)(?: \(UUID: ([^)]+)\))?$")
_MIG_LINE = re.compile(r"^\s+MIG\s.*Device\s+\d+:")
_EXIT = re.compile(r"^exit=(\d+)$")


@dataclass(frozen=True, slots=True)
class Gpu:
    """One GPU as ``nvidia-smi`` lists it."""

    index: int
    name: str
    uuid: str = ""
    memory_mib: int | None = None
    mig_devices: int = 0  # MIG instances nvidia-smi -L lists under it


def split_sections(text: str, marker: str) -> dict[str, str]:
    """``{name: text}`` of every ``@@mlops-facts:NAME@@`` section; what precedes the first
    marker (a login banner) is dropped."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        match = _SECTION.match(line.strip()) if line.startswith(marker) else None
        if match:
            current = sections.setdefault(match[1], [])
        elif current is not None:
            current.append(line)
    return {name: "\n".join(lines) for name, lines in sections.items()}


def unix_time(text: str) -> float | None:
    """``date +%s.%N`` → seconds; busybox prints ``%N`` literally: whole seconds then."""
    match = re.match(r"^(\d{9,})(?:\.(\d+))?", text.strip())
    return float(f"{match[1]}.{match[2] or 0}") if match else None


def parse_os_release(text: str) -> dict[str, str]:
    """``KEY=value`` lines of os-release, quotes removed."""
    values = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if not sep or not key.isidentifier():
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        values[key] = value
    return values


def parse_df(text: str) -> dict[str, int]:
    """``{path: bytes available}`` from ``path P`` lines each followed by ``df -Pk P``'s
    data line."""
    free: dict[str, int] = {}
    path = None
    for line in text.splitlines():
        if line.startswith("path "):
            path = line[5:].strip()
            continue
        match = _DF_LINE.search(line)
        if match and path:
            free[path] = int(match[3]) * 1024
            path = None
    return free


def parse_swaps(text: str) -> int:
    """Total size in bytes of the swap areas ``/proc/swaps`` lists (0: none active)."""
    total = 0
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 3 and fields[2].isdigit():
            total += int(fields[2]) * 1024
    return total


def _exit_code(lines: list[str]) -> tuple[list[str], int]:
    if lines and (match := _EXIT.match(lines[-1].strip())):
        return lines[:-1], int(match[1])
    return lines, 0


def parse_gpus(list_text: str, query_text: str) -> tuple[tuple[Gpu, ...], str, str]:
    """``(gpus, driver_version, error)`` from ``nvidia-smi -L`` and the ``--query-gpu``
    CSV; ``absent`` (no nvidia-smi) gives no GPUs and no error."""
    if list_text.strip() in ("", "absent"):
        return (), "", ""
    lines, code = _exit_code(list_text.splitlines())
    if code != 0:
        first = next((line.strip() for line in lines if line.strip()), f"exit {code}")
        return (), "", f"nvidia-smi failed: {first[:200]}"
    found: list[dict] = []
    for line in lines:
        if match := _GPU_LINE.match(line.strip()):
            found.append({"index": int(match[1]), "name": match[2].strip(),
                          "uuid": match[3] or "", "mig_devices": 0})
        elif _MIG_LINE.match(line) and found:
            found[-1]["mig_devices"] += 1
    query, query_code = _exit_code(query_text.splitlines())
    driver = ""
    rows = [row for row in query if row.count(",") >= 2] if query_code == 0 else []
    for position, row in enumerate(rows):
        version, _, rest = row.partition(",")
        name, _, memory = rest.rpartition(",")
        driver = driver or version.strip()
        mib = re.match(r"\s*(\d+)\s*MiB", memory)
        if position < len(found):
            found[position]["memory_mib"] = int(mib[1]) if mib else None
            found[position]["name"] = found[position]["name"] or name.strip()
    return tuple(Gpu(**gpu) for gpu in found), driver, ""


def _proc_address(text: str) -> str:
    """``0100007F`` → ``127.0.0.1`` (little-endian words, as /proc/net/* prints them)."""
    raw = bytes.fromhex(text)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    words = struct.unpack("<4I", raw)
    return socket.inet_ntop(socket.AF_INET6, struct.pack(">4I", *words))


def parse_listeners(text: str, proto: str = "tcp") -> tuple[tuple[str, int], ...]:
    """``(address, port)`` of listening sockets from ``ss -l[tu]nH`` lines, or (after a
    ``proc`` line) from /proc/net/{tcp,udp}{,6}: TCP in LISTEN, any bound UDP socket."""
    lines = text.splitlines()
    found: set[tuple[str, int]] = set()
    if lines and lines[0].strip() == "proc":
        for line in lines[1:]:
            fields = line.split()
            if len(fields) < 4 or ":" not in fields[1] or fields[0] == "sl":
                continue
            if proto == "tcp" and fields[3] != "0A":
                continue
            address, _, port = fields[1].partition(":")
            try:
                found.add((_proc_address(address), int(port, 16)))
            except ValueError:
                continue
        return tuple(sorted(found))
    for line in lines:
        fields = line.split()
        if len(fields) < 5 or fields[0] in ("State", "Netid"):
            continue
        address, _, port = fields[3].rpartition(":")
        if port.isdigit():
            found.add((address.strip("[]").split("%")[0] or "*", int(port)))
    return tuple(sorted(found))
