"""check_repository: is a Triton model repository usable, before a server tries to load it.

A local directory (relative to the script's folder) and an ``s3://`` bucket are read and
checked by backends/triton/repository.py (configs parsed, version folders, model files,
ensembles). A ``pvc://CLAIM/PATH`` cannot be read from here: the claim must exist and be
Bound, and a warning says its contents go unchecked until the server loads them. Every
problem is one ``output`` line; any problem fails the step as a check (exit 1).

``deploy`` runs the same check (:func:`check`) before it builds anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field

from mlops_tui.backends.actions import events
from mlops_tui.backends.actions.base import (
    ActionContext,
    ActionSpec,
    CheckFailed,
    Namespace,
    Request,
)
from mlops_tui.backends.actions.events import ActionEvent
from mlops_tui.backends.errors import (
    ConfigError,
    ConnectionFailed,
    Forbidden,
    NotFound,
)
from mlops_tui.backends.models import ResourceRef
from mlops_tui.backends.protocols import ObjectReader


class RepositoryRequest(Request):
    path: str = Field(min_length=1, max_length=4096)  # a directory, pvc://, s3://
    namespace: Namespace | None = None  # of a pvc:// claim (default: the session's)
    endpoint_url: str | None = Field(default=None, min_length=1, max_length=2048,
                                     pattern=r"^https?://[^\s]+$")  # an S3 endpoint


@dataclass
class Checked:
    """What a repository check found: problems fail it, warnings and models are told."""

    source: Any  # backends.deploy.source.ModelSource
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)  # "name (backend, versions 1, 2)"


def problems_message(checked: Checked) -> str:
    """``model repository X: 3 problems (first: ...)``: the text report shows no output
    lines, so the failure names the first problem itself."""
    count = len(checked.problems)
    return (f"model repository {checked.source.uri}: {count} problem"
            f"{'s' if count != 1 else ''} (first: {checked.problems[0]})")


def parse_source(text: str) -> Any:
    """The ModelSource ``text`` names.

    Raises:
        ConfigError: it names none (the message says why).
    """
    from mlops_tui.backends.deploy.source import parse_model_source

    try:
        return parse_model_source(text)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _models(report: Any) -> list[str]:
    lines = []
    for model in report.models:
        count = len(model.versions)
        versions = (f"version{'s' if count != 1 else ''} "
                    f"{', '.join(str(v) for v in model.versions)}" if count else "no versions")
        lines.append(f"{model.name} ({model.platform_or_backend or 'no backend'}, {versions})")
    return lines


def _s3_client(source: Any, endpoint_url: str | None) -> Any:
    import boto3

    endpoint = endpoint_url or source.endpoint or None
    if endpoint and "://" not in endpoint:
        endpoint = f"http://{endpoint}"  # host:port, as Triton's s3:// takes it
    # a session of its own: the default one keeps the credentials it found first
    return boto3.session.Session().client("s3", endpoint_url=endpoint)


def _check_s3(source: Any, endpoint_url: str | None) -> Any:
    import botocore.exceptions as boto

    from mlops_tui.backends.triton.repository import check_s3_repository

    where = f"s3://{source.bucket}/{source.path}".rstrip("/")
    try:
        return check_s3_repository(where, s3_client=_s3_client(source, endpoint_url))
    except boto.NoCredentialsError:
        raise ConfigError(f"{where}: no AWS credentials found (environment, "
                          "~/.aws/credentials or an instance role)") from None
    except (boto.EndpointConnectionError, boto.ConnectTimeoutError,
            boto.ReadTimeoutError) as exc:
        raise ConnectionFailed(f"{where}: S3 cannot be reached: {exc}") from None
    except boto.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"):
            raise Forbidden(f"{where}: S3 refused access ({code})") from None
        raise CheckFailed(f"{where}: {code or exc}") from None
    except boto.BotoCoreError as exc:
        raise ConfigError(f"{where}: {exc}") from None


async def _check_claim(ctx: ActionContext, source: Any, namespace: str, checked: Checked,
                       pending_ok: bool) -> None:
    reader: ObjectReader = ctx.capability(ObjectReader, "read objects")
    ref = ResourceRef(ctx.kind("persistentvolumeclaims"), source.claim, namespace)
    try:
        claim = await reader.get_object(ref)
    except NotFound:
        checked.problems.append(f"{source.uri}: claim {source.claim!r} does not exist in "
                                f"namespace {namespace}")
        return
    phase = (claim.get("status") or {}).get("phase") or "Pending"
    if phase == "Pending" and pending_ok:  # a WaitForFirstConsumer class binds for a pod
        checked.warnings.append(f"{source.uri}: claim {source.claim!r} is Pending: it binds "
                                "when the server's pod uses it, if its storage class waits "
                                "for one")
    elif phase != "Bound":
        checked.problems.append(f"{source.uri}: claim {source.claim!r} is {phase}, not Bound")
    checked.warnings.append(f"{source.uri}: the claim's contents cannot be read from here; "
                            "the server checks them when it loads the models")


async def check(ctx: ActionContext, text: str, namespace: str,
                endpoint_url: str | None = None, *, pending_ok: bool = False) -> Checked:
    """Check the repository ``text`` names (a path, ``pvc://`` or ``s3://``).

    ``pending_ok``: a Pending claim is a warning, not a problem (a deploy: the claim may
    wait for the pod that uses it).

    Raises:
        ConfigError: ``text`` names no repository, or S3 has no credentials.
        ConnectionFailed, Forbidden: S3 or the cluster cannot be reached or refuses.
    """
    source = parse_source(text)
    checked = Checked(source)
    if source.kind == "pvc":
        await _check_claim(ctx, source, namespace, checked, pending_ok)
        return checked
    if source.kind == "s3":
        report = await asyncio.to_thread(_check_s3, source, endpoint_url)
    else:
        from mlops_tui.backends.triton.repository import check_repository

        report = await asyncio.to_thread(check_repository, local_path(ctx, source))
    checked.problems += [str(p) for p in report.problems]
    checked.models += _models(report)
    return checked


def local_path(ctx: ActionContext, source: Any) -> Path:
    """A local source's directory, relative to the script's folder."""
    return Path(ctx.path(source.path)).expanduser()


async def run_check(ctx: ActionContext, req: RepositoryRequest) -> AsyncIterator[ActionEvent]:
    namespace = req.namespace or ctx.namespace or "default"
    checked = await check(ctx, req.path, namespace, req.endpoint_url)
    for line in checked.models:
        yield events.progress(f"model {line}")
    for line in checked.warnings:
        yield events.warning(line)
    for line in checked.problems:
        yield events.output(line)
    data = {"source": checked.source.uri, "models": checked.models,
            "problems": checked.problems, "warnings": checked.warnings}
    if checked.problems:
        raise CheckFailed(problems_message(checked), data=data)
    what = f"{len(checked.models)} model{'s' if len(checked.models) != 1 else ''}" \
        if checked.source.kind != "pvc" else "the claim is Bound"
    yield events.ok(f"model repository {checked.source.uri}: {what}", data)


SPECS = (ActionSpec("check_repository", RepositoryRequest, run_check,
                    "check a Triton model repository (a folder, pvc:// or s3://)"),)
