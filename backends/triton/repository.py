"""Check a Triton model repository before a server is pointed at it: local folder or S3.

One checker runs over an abstract listing (relative path → file or folder) and a reader
for ``config.pbtxt`` files, so a folder and an S3 prefix get exactly the same rules
(:mod:`~mlops_tui.backends.triton.model_rules`). ``config.pbtxt`` is parsed by protobuf's
own text-format parser into Triton's ``ModelConfig``; its errors keep their line:column.

Pure: nothing here talks to Triton. Every finding is a :class:`Problem`, one line each;
nothing a repository holds (loops, unreadable files, binary garbage) raises.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlops_tui.backends.errors import ConfigError, ConnectionFailed, Forbidden
from mlops_tui.backends.triton.model_rules import (
    MAX_CONFIG_BYTES,
    Listing,
    ModelEntry,
    Problem,
    check_model,
)
from mlops_tui.backends.triton.results import plain

__all__ = [
    "ModelEntry",
    "Problem",
    "RepositoryReport",
    "check_listing",
    "check_repository",
    "check_s3_repository",
]

#: deepest level listed: <model>/<version>/<file or folder>
_DEPTH = 3
#: most objects listed from one S3 prefix
MAX_S3_OBJECTS = 100_000
#: what S3 answers when the credentials may not list the bucket
_REFUSED_CODES = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"}
#: objects per listing page (S3's own maximum)
S3_PAGE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class RepositoryReport:
    """Models found (even those with problems) and every problem, in a stable order."""

    models: tuple[ModelEntry, ...]
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        """No problem at all."""
        return not self.problems

    def lines(self) -> list[str]:
        """One ``path: message`` line per problem."""
        return [str(p) for p in self.problems]


def check_listing(root: str, listing: Listing, read: Callable[[str], bytes],
                  problems: list[Problem] | None = None) -> RepositoryReport:
    """Apply every rule to a listed repository.

    Args:
        root: the repository as shown in messages (a path or an ``s3://`` URI).
        listing: relative path (``model/1/model.onnx``) → ``"file"``, ``"dir"`` or
            ``"special"`` (FIFO, socket, device), at least three levels deep.
        read: returns a file's bytes (at most ``MAX_CONFIG_BYTES + 1``), or raises
            ``OSError`` with a reason.
        problems: found while listing (loops, unreadable folders); reported first.

    Returns:
        The report.
    """
    found = list(problems or ())
    model_names = sorted(
        p for p, kind in listing.items()
        if kind == "dir" and "/" not in p and not p.startswith(".")
    )
    if not model_names:
        found.append(Problem(root, "no models: the repository has no model folders"))
    entries = []
    for name in model_names:
        entry, model_problems = check_model(name, listing, read, set(model_names))
        found.extend(model_problems)
        if entry is not None:
            entries.append(entry)
    return RepositoryReport(models=tuple(entries), problems=tuple(found))


# ---------------------------------------------------------------------- local folder


def _list_local(root: Path) -> tuple[Listing, list[Problem]]:
    """``root`` listed to :data:`_DEPTH` levels, following symlinks but never in a loop."""
    listing: Listing = {}
    problems: list[Problem] = []
    seen: set[tuple[int, int]] = set()

    def walk(folder: Path, rel: str, depth: int) -> None:
        try:
            st = folder.stat()
            if (st.st_dev, st.st_ino) in seen:
                problems.append(Problem(rel or str(root), "symlink loop: folder seen before"))
                return
            seen.add((st.st_dev, st.st_ino))
            children = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            problems.append(Problem(rel or str(root), f"cannot read folder: {_reason(exc)}"))
            return
        for child in children:
            path = f"{rel}/{child.name}" if rel else child.name
            try:
                mode = os.stat(child.path).st_mode  # follows symlinks
            except OSError as exc:
                problems.append(Problem(path, f"cannot read: {_reason(exc)}"))
                continue
            if stat.S_ISDIR(mode):
                listing[path] = "dir"
                if depth + 1 < _DEPTH:
                    walk(Path(child.path), path, depth + 1)
            else:  # a FIFO or device is never opened: reading one could block forever
                listing[path] = "file" if stat.S_ISREG(mode) else "special"

    walk(root, "", 0)
    return listing, problems


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def check_repository(path: Path) -> RepositoryReport:
    """Check the model repository in the folder ``path``.

    Returns:
        The report; a missing or unreadable folder is a problem in it, not an exception.
    """
    root = Path(path)
    if not root.is_dir():
        why = "does not exist" if not root.exists() else "is not a folder"
        return RepositoryReport(models=(), problems=(Problem(str(root), why),))
    listing, problems = _list_local(root)

    def read(rel: str) -> bytes:
        with open(root / rel, "rb") as f:
            return f.read(MAX_CONFIG_BYTES + 1)

    return check_listing(str(root), listing, read, problems)


# ---------------------------------------------------------------------- S3


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` (or Triton's ``s3://host:port/bucket/prefix``) → (bucket,
    prefix without slashes at the ends).

    Raises:
        ConfigError: not an ``s3://`` URI with a bucket.
    """
    if not uri.startswith("s3://"):
        raise ConfigError(f"{uri!r}: an S3 repository starts with s3://")
    parts = [p for p in uri.removeprefix("s3://").split("/") if p]
    if parts and ":" in parts[0]:  # Triton's form naming the endpoint first
        parts = parts[1:]
    if not parts:
        raise ConfigError(f"{uri!r}: no bucket named")
    return parts[0], "/".join(parts[1:])


def check_s3_repository(uri: str, *, s3_client) -> RepositoryReport:
    """Check the model repository under an S3 prefix, with the rules of a local folder.

    Args:
        uri: ``s3://bucket/prefix``.
        s3_client: a boto3 S3 client (its endpoint and credentials are the caller's).

    Returns:
        The report; a missing bucket or a refused listing is a problem in it.

    Raises:
        ConfigError: a bad URI or bucket name, or no credentials.
        Forbidden: S3 refused the credentials.
        ConnectionFailed: the S3 endpoint could not be reached.
    """
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        ReadTimeoutError,
    )

    bucket, prefix = parse_s3_uri(uri)
    base = f"{prefix}/" if prefix else ""
    listing: Listing = {}
    try:
        pages = s3_client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=base, PaginationConfig={"PageSize": S3_PAGE_SIZE})
        count = 0
        for page in pages:
            for obj in page.get("Contents", ()):
                count += 1
                if count > MAX_S3_OBJECTS:
                    return check_listing(uri, listing, lambda rel: b"", [Problem(
                        uri, f"more than {MAX_S3_OBJECTS} objects: not a model repository?")])
                _add_key(listing, obj["Key"][len(base):])
    except NoCredentialsError:
        raise ConfigError(f"{uri}: no AWS credentials for S3") from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "error"))
        if code in _REFUSED_CODES:
            raise Forbidden(f"{uri}: S3 refused access ({code})") from None
        message = plain(f"{code}: {error.get('Message', '')}".rstrip(": "))
        return RepositoryReport(models=(), problems=(Problem(uri, message),))
    except (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError) as exc:
        raise ConnectionFailed(f"{uri}: S3 cannot be reached: {exc}") from None
    except BotoCoreError as exc:  # e.g. a bucket name S3 would never accept
        # botocore's text: a header line, then 'Invalid bucket name "x": must match <regex>'
        reason = str(exc).strip().splitlines()[-1].split(": ")[0]
        raise ConfigError(f"{uri}: {plain(reason)}") from None

    def read(rel: str) -> bytes:
        try:
            body = s3_client.get_object(Bucket=bucket, Key=base + rel)["Body"]
            return body.read(MAX_CONFIG_BYTES + 1)
        except (ClientError, BotoCoreError) as exc:
            raise OSError(f"cannot read from S3: {exc}") from None

    return check_listing(uri, listing, read)


def _add_key(listing: Listing, rel: str) -> None:
    """One S3 key: its folders (implied by the key's parts) and the file itself."""
    parts = [p for p in rel.split("/") if p]
    if not parts:
        return
    is_dir = rel.endswith("/")  # a "folder" placeholder object
    for depth in range(1, min(len(parts), _DEPTH) + 1):
        path = "/".join(parts[:depth])
        last = depth == len(parts)
        listing[path] = "dir" if (not last or is_dir) else listing.get(path, "file")
