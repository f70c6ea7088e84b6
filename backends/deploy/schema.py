"""Manifests checked against the Kubernetes OpenAPI schemas kubernetes-validate ships.

Every error is one line that names the object and the field path
(``Deployment/web: spec.template.spec.containers[0].ports[0].containerPort: 'x' is not of
type 'integer'``). The strict schemas are used, so a misspelt field is an error too.

kubernetes-validate ships schemas from some version on (1.25 in 1.37.0); an older cluster
(the 1.20 test server) is checked against the oldest schema shipped, which
:func:`schema_version` names. Its core kinds (Deployment, Service, ConfigMap, PVC,
ServiceAccount) have kept their shape since 1.20. A custom resource (ServiceMonitor,
InferenceService) has no schema there: it is not checked, and :func:`schema_note` says so.
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources
from typing import Any

_SCHEMAS = "kubernetes-json-schema"
_VERSION_DIR = re.compile(r"^v(\d+)\.(\d+)\.\d+-local-strict$")
MAX_ERRORS = 20  # a hopeless manifest (a list instead of a mapping) says enough by then


def _root() -> Any:
    return resources.files("kubernetes_validate").joinpath(_SCHEMAS)


@functools.cache
def _shipped() -> tuple[tuple[int, int], ...]:
    found = (_VERSION_DIR.match(entry.name) for entry in _root().iterdir())
    return tuple(sorted((int(m[1]), int(m[2])) for m in found if m))


def _minor(version: str) -> tuple[int, int]:
    match = re.match(r"^v?(\d+)\.(\d+)", str(version).strip())
    if not match:
        raise ValueError(f"kubernetes version {version!r}: expected MAJOR.MINOR, e.g. 1.20")
    return int(match[1]), int(match[2])


def schema_version(kubernetes_version: str) -> str:
    """The schema version used for a cluster version: the newest shipped that is not newer,
    else the oldest shipped (``"1.20"`` → ``"1.25"`` with kubernetes-validate 1.37).

    Raises:
        ValueError: the version is not MAJOR.MINOR[.PATCH].
    """
    wanted, shipped = _minor(kubernetes_version), _shipped()
    older = [v for v in shipped if v <= wanted]
    major, minor = older[-1] if older else shipped[0]
    return f"{major}.{minor}"


@functools.cache
def _definitions(version: str) -> Any:
    import referencing

    with _root().joinpath(f"v{version}.0-local-strict", "_definitions.json").open() as f:
        return referencing.Resource.from_contents(json.load(f))


@functools.lru_cache(maxsize=256)  # kinds are user text: bounded
def _validator(version: str, kind: str, api_version: str) -> Any:
    """The validator for one kind, or None when no schema is shipped for it."""
    import jsonschema
    import referencing

    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    file = _root().joinpath(f"v{version}.0-local-strict", f"{kind.lower()}-{group}.json")
    if not re.fullmatch(r"[a-z0-9.-]+", f"{kind.lower()}-{group}") or not file.is_file():
        return None
    with file.open() as f:
        schema = json.load(f)
    # the kind's schema refers to "/api/_definitions.json", resolved against its own $id
    registry = _definitions(version) @ referencing.Registry()
    return jsonschema.Draft202012Validator(schema, registry=registry)


def _path(parts: Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _label(manifest: dict[str, Any]) -> str:
    meta = manifest.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    return f"{manifest.get('kind') or '?'}/{name if isinstance(name, str) else '?'}"


def _identity(manifest: Any) -> tuple[str, str] | str:
    """(kind, apiVersion), or the one-line reason the manifest has none."""
    if not isinstance(manifest, dict):
        return f"(manifest): must be a mapping, not {type(manifest).__name__}"
    kind, api_version = manifest.get("kind"), manifest.get("apiVersion")
    if not isinstance(kind, str) or not kind:
        return f"{_label(manifest)}: kind: is missing"
    if not isinstance(api_version, str) or not api_version:
        return f"{_label(manifest)}: apiVersion: is missing"
    return kind, api_version


def schema_errors(manifest: dict[str, Any], kubernetes_version: str) -> list[str]:
    """Why the API would refuse ``manifest``, one line per problem with the field path;
    empty when it validates or when no schema is shipped for its kind (see
    :func:`schema_note`).

    Raises:
        ValueError: ``kubernetes_version`` is not a version.
    """
    version = schema_version(kubernetes_version)
    identity = _identity(manifest)
    if isinstance(identity, str):
        return [identity]
    validator = _validator(version, *identity)
    if validator is None:
        return []
    errors = sorted(validator.iter_errors(manifest), key=lambda e: list(map(str, e.path)))
    label = _label(manifest)
    lines = [f"{label}: {_path(e.absolute_path)}: {_message(e)}" for e in errors]
    if len(lines) > MAX_ERRORS:
        lines = [*lines[:MAX_ERRORS], f"{label}: ... and {len(lines) - MAX_ERRORS} more"]
    return lines


def _message(error: Any) -> str:
    """jsonschema's message, shortened: it quotes the whole value, which can be huge."""
    text = " ".join(str(error.message).split())
    return text if len(text) <= 200 else text[:197] + "..."


def schema_note(manifest: dict[str, Any], kubernetes_version: str) -> str | None:
    """A line saying the manifest was not checked (no schema for its kind), or None."""
    identity = _identity(manifest)
    if isinstance(identity, str):
        return None
    version = schema_version(kubernetes_version)
    if _validator(version, *identity) is not None:
        return None
    kind, api_version = identity
    return (f"{_label(manifest)}: not checked: no {api_version} {kind} schema for Kubernetes "
            f"{version} in kubernetes-validate (a custom resource?)")
