"""A local model repository shipped in a ConfigMap, and copied into the pod at start.

A ConfigMap key cannot hold '/', so each file gets a flat key (``0003-config.pbtxt``) and
the volume's ``items`` put it back at its path. The kubelet mounts a ConfigMap as symlinks
into a hidden ``..data`` directory; the init container copies only the top-level entries,
dereferenced (``cp -rL``), into an emptyDir, so Triton sees plain files and no ``..data``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MAX_CONFIGMAP_BYTES = 1_000_000  # etcd refuses objects over ~1.5 MiB; leave room
REPOSITORY_MOUNT = "/models"  # where Triton reads the copy
CONFIGMAP_MOUNT = "/repository"  # where the init container reads the ConfigMap
TOO_BIG = "use a PVC (pvc://CLAIM/PATH) or s3://BUCKET/PATH for a repository this size"
_KEY_UNSAFE = re.compile(r"[^-._a-zA-Z0-9]")
_KEY_MAX = 253


def _check_path(path: str) -> str:
    """A file's path inside the repository as the volume's ``items`` accept it."""
    if not isinstance(path, str) or not path:
        raise ValueError("model repository: a file has an empty path")
    if path.startswith("/") or any(ord(ch) < 32 for ch in path) or "\\" in path:
        raise ValueError(f"model repository file {path!r}: must be a relative path without "
                         "control characters or backslashes")
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts) or parts[0].startswith(".."):
        raise ValueError(f"model repository file {path!r}: '.', '..' and empty parts are "
                         "not allowed")
    return path


def _key(index: int, path: str) -> str:
    base = _KEY_UNSAFE.sub("_", path.rsplit("/", 1)[-1])
    return f"{index:04d}-{base}"[:_KEY_MAX]


def content_hash(files: Mapping[str, bytes]) -> str:
    """SHA-256 over the paths and contents: changes whenever any file or name does."""
    digest = hashlib.sha256()
    for path in sorted(files):
        data = files[path]
        digest.update(f"{len(path)}:{path}:{len(data)}:".encode())
        digest.update(data)
    return digest.hexdigest()


def configmap(name: str, namespace: str, labels: dict[str, str],
              files: Mapping[str, bytes]) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """(the ConfigMap holding ``files``, the volume ``items`` mapping its keys to paths).

    UTF-8 files go to ``data``, others to ``binaryData`` (base64).

    Raises:
        ValueError: no files, a path a volume cannot hold, or more than
            :data:`MAX_CONFIGMAP_BYTES` in all.
    """
    if not files:
        raise ValueError("model repository: the local directory holds no files")
    data: dict[str, str] = {}
    binary: dict[str, str] = {}
    items: list[dict[str, str]] = []
    size = 0
    for index, path in enumerate(sorted(files)):
        key = _key(index, _check_path(path))
        content = files[path]
        try:
            data[key] = content.decode("utf-8")
            size += len(content)
        except UnicodeDecodeError:
            binary[key] = base64.b64encode(content).decode("ascii")
            size += len(binary[key])
        size += len(key)
        if size > MAX_CONFIGMAP_BYTES:
            raise ValueError(f"the local model repository is larger than a ConfigMap holds "
                             f"({MAX_CONFIGMAP_BYTES:,} bytes): {TOO_BIG}")
        items.append({"key": key, "path": path})
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": name, "namespace": namespace,
                                         "labels": dict(labels)}}
    if data:
        body["data"] = data
    if binary:
        body["binaryData"] = binary
    return body, items


def copy_container(image: str, files: Mapping[str, bytes],
                   pull_policy: str | None) -> dict[str, Any]:
    """The init container that copies the repository's top-level entries into the emptyDir.

    The entries travel as ``sh -c`` positional arguments, never inside the script text, so
    no file name is read by the shell.
    """
    tops = sorted({path.split("/", 1)[0] for path in files})
    container: dict[str, Any] = {
        "name": "copy-models",
        "image": image,
        "command": ["sh", "-c", f'cp -rL -- "$@" {REPOSITORY_MOUNT}/', "sh",
                    *(f"{CONFIGMAP_MOUNT}/{top}" for top in tops)],
        "volumeMounts": [{"name": "model-files", "mountPath": CONFIGMAP_MOUNT,
                          "readOnly": True},
                         {"name": "models", "mountPath": REPOSITORY_MOUNT}],
    }
    if pull_policy:
        container["imagePullPolicy"] = pull_policy
    return container


def volumes(configmap_name: str, items: list[dict[str, str]]) -> list[dict[str, Any]]:
    """The ConfigMap volume the init container reads and the emptyDir Triton reads."""
    return [{"name": "model-files", "configMap": {"name": configmap_name, "items": items}},
            {"name": "models", "emptyDir": {}}]


def read_repository(root: Path) -> dict[str, bytes]:
    """Every regular file under ``root`` by its relative path ('/'-separated).

    Symbolic links are not followed (a link could point anywhere on this machine); the
    walk stops as soon as the files exceed :data:`MAX_CONFIGMAP_BYTES`.

    Raises:
        ValueError: ``root`` is not a readable directory, holds no files, or is too big.
    """
    if not root.is_dir():
        raise ValueError(f"model repository {str(root)!r}: not a directory")
    files: dict[str, bytes] = {}
    total = 0
    try:
        for path in sorted(root.rglob("*")):
            if path.is_symlink() or not path.is_file():
                continue
            total += path.stat().st_size
            if total > MAX_CONFIGMAP_BYTES:
                raise ValueError(f"model repository {str(root)!r} is larger than a "
                                 f"ConfigMap holds ({MAX_CONFIGMAP_BYTES:,} bytes): "
                                 f"{TOO_BIG}")
            files[path.relative_to(root).as_posix()] = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"model repository {str(root)!r}: cannot read: "
                         f"{exc.strerror or exc}") from None
    if not files:
        raise ValueError(f"model repository {str(root)!r}: holds no files")
    return files
