"""Where a model repository lives: a local directory, a path in a claim, or an S3 bucket.

Pure: text in, a checked :class:`ModelSource` out. A path inside a claim or bucket is
normalised and may never climb out of it.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Literal

from mlops_tui.backends import names

# S3 bucket names (the strict rules for new buckets)
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_ENDPOINT = re.compile(r"^(https?://)?[A-Za-z0-9.-]+(:\d{1,5})?$")


@dataclass(frozen=True, slots=True)
class ModelSource:
    """Where the model repository lives.

    ``local``: ``path`` is a directory on this machine (its files go into a ConfigMap);
    ``pvc``: ``path`` inside the claim ``claim``; ``s3``: ``path`` inside ``bucket``, at
    ``endpoint`` (``host:port`` or ``https://host:port``; empty: AWS).
    """

    kind: Literal["local", "pvc", "s3"]
    path: str
    claim: str = ""
    bucket: str = ""
    endpoint: str = ""

    @property
    def uri(self) -> str:
        """The source as a URI (``pvc://claim/path``, ``s3://[endpoint/]bucket/path``); a
        local source is its path."""
        if self.kind == "pvc":
            return f"pvc://{self.claim}/{self.path}".rstrip("/")
        if self.kind == "s3":
            host = f"{self.endpoint}/" if self.endpoint else ""
            return f"s3://{host}{self.bucket}/{self.path}".rstrip("/")
        return self.path


def _clean_path(path: str, text: str) -> str:
    """A path inside a claim or bucket: relative, normalised, never climbing out."""
    if any(ch in path for ch in "\0\n\r\t\\"):
        raise ValueError(f"model repository {text!r}: the path holds a control character "
                         "or a backslash")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ValueError(f"model repository {text!r}: the path may not contain '..'")
    return posixpath.join(*parts) if parts else ""


def _parse_pvc(rest: str, text: str) -> ModelSource:
    claim, _, path = rest.partition("/")
    problem = names.subdomain_problem(claim)
    if problem:
        raise ValueError(f"model repository {text!r}: claim name {claim!r} {problem}")
    return ModelSource("pvc", _clean_path(path, text), claim=claim)


def _parse_s3(rest: str, text: str) -> ModelSource:
    endpoint = ""
    for scheme in ("http://", "https://"):  # Triton's s3://https://host:port/bucket/...
        if rest.startswith(scheme):
            host, _, rest = rest[len(scheme):].partition("/")
            endpoint = scheme + host
    first, _, after = rest.partition("/")
    if not endpoint and ":" in first:  # a bucket name never holds ':': host:port
        endpoint, rest = first, after
    if endpoint and not _ENDPOINT.match(endpoint):
        raise ValueError(f"model repository {text!r}: endpoint {endpoint!r} is not "
                         "HOST:PORT or https://HOST:PORT")
    bucket, _, path = rest.partition("/")
    if not _BUCKET.match(bucket):
        raise ValueError(f"model repository {text!r}: bucket {bucket!r} is not an S3 bucket "
                         "name (3-63 lower-case letters, digits, '.' and '-')")
    return ModelSource("s3", _clean_path(path, text), bucket=bucket, endpoint=endpoint)


def parse_model_source(text: str) -> ModelSource:
    """``pvc://CLAIM/PATH``, ``s3://[HOST:PORT/]BUCKET/PATH`` or a local directory
    (``file://PATH`` or a plain path).

    Raises:
        ValueError: the text names no usable source; the message quotes it and says why.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("model repository: must not be empty")
    if "\0" in text or "\n" in text:
        raise ValueError(f"model repository {text!r}: holds a control character")
    lower = text.lower()
    if lower.startswith("pvc://"):
        return _parse_pvc(text[len("pvc://"):], text)
    if lower.startswith("s3://"):
        return _parse_s3(text[len("s3://"):], text)
    if lower.startswith("file://"):
        text = text[len("file://"):]
    elif re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text):
        scheme = text.split("://", 1)[0]
        raise ValueError(f"model repository {text!r}: {scheme}:// is not supported; use a "
                         "local directory, pvc://CLAIM/PATH or s3://BUCKET/PATH")
    if not text:
        raise ValueError("model repository: file:// names no directory")
    return ModelSource("local", text)
